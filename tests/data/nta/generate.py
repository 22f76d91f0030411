"""Write the synthetic NTA exports of this folder (run: python tests/data/nta/generate.py).

The files vary the layout of the two real NanoSight NTA 3.3 exports in
the real ones (videos, sections, version labels, delimiter
and decimal comma) and of a ZetaView 8 export, and hold bad files whose problem
sits on a known line. The size distributions are lognormal (median and
geometric SD below), so the expected statistics are known.
"""

from __future__ import annotations

import math
from pathlib import Path

HERE = Path(__file__).parent


def lognormal_bins(total: float, median: float, gsd: float, centres: list[float], width: float) -> list[float]:
    """Concentration per bin of a lognormal number distribution (rounded as the instruments write it)."""
    s = math.log(gsd)
    out: list[float] = []
    for c in centres:
        lo, hi = max(c - width / 2, 1e-9), c + width / 2
        cdf = [0.5 * (1 + math.erf(math.log(x / median) / (s * math.sqrt(2)))) for x in (lo, hi)]
        out.append(round(total * (cdf[1] - cdf[0])))
    return out


def nanosight(
    videos: int,
    conc: list[float],
    *,
    dilution: str = "Not recorded",
    version: str = "NTA 3.3 - Sample Assistant Dev Build 3.3.203",
    delimiter: str = ",",
    decimal_comma: bool = False,
    omit: tuple[str, ...] = (),
    bins: int = 400,
    median: float = 90.0,
    gsd: float = 1.45,
    labels: dict[str, str] | None = None,
    settings_first: bool = False,
) -> list[str]:
    """Lines of a NanoSight experiment summary with ``videos`` videos."""
    labels = labels or {}

    def num(x: float, fmt: str) -> str:
        s = format(x, fmt)
        return s.replace(".", ",") if decimal_comma else s

    def row(*cells: str) -> str:
        return delimiter.join(cells) + delimiter

    def lab(x: str) -> str:
        return labels.get(x, x)

    avg = sum(conc) / videos
    se = (sum((c - avg) ** 2 for c in conc) / max(videos - 1, 1)) ** 0.5 / videos**0.5
    names = [f"EV harvest 2026-01-0{k + 1}" for k in range(videos)]
    two = ("Average", "Standard Error") if videos > 1 else ()
    out = [row("NTA Experiment Summary File"), row(f"Created with {version}"), row("")]
    out += [row("[Experiment Details]", ""), row("Software Version", version), row("Sample Description", "harvest d")]
    out += [row(""), row("Filename:", *names), row(*[""] * videos)]
    conditions = [row("[Conditions]", *[""] * videos)]
    conditions += [row(lab("Temperature/C"), *[num(25.0, ".3f")] * videos)]
    conditions += [row(lab("Viscosity/cP"), *[num(0.889, ".6f")] * videos)]
    conditions += [row(lab("Camera Type"), *["sCMOS"] * videos)]
    conditions += [row(lab("Camera Level"), *["14"] * videos), row(*[""] * videos)]
    settings = [row("[Settings]", *[""] * videos), row(lab("Detection Threshold"), *["5"] * videos)]
    settings += [row(*[""] * videos)]
    blocks = {"conditions": conditions, "settings": settings}
    order = ["settings", "conditions"] if settings_first else ["conditions", "settings"]
    for name in order:
        if name not in omit:
            out += blocks[name]
    if "results" not in omit:
        out += [row("[Results]", *[""] * videos, *two)]
        out += [row(lab("Dilution factor (concentrations adjusted for this factor)"), *[dilution] * videos)]
        c_cells = [num(c, ".2e") for c in conc] + ([num(avg, ".2e"), num(se, ".2e")] if two else [])
        out += [row(lab("Concentration (Particles / ml)"), *c_cells), row(*[""] * videos)]
    if "size" not in omit:
        width = 1.0
        centres = [k + 0.5 for k in range(bins)]
        per_video = [
            lognormal_bins(c, median * (1 + 0.02 * (k - videos / 2)), gsd, centres, width) for k, c in enumerate(conc)
        ]
        out += [row("[Size Data]", ""), row("Analysis Method", "FTLA"), row("Weighting", "Number")]
        out += [row("Filename", *names, *two)]
        d50 = [median * (1 + 0.02 * (k - videos / 2)) for k in range(videos)]
        for stat, vals in (
            ("Mean", [d * math.exp(math.log(gsd) ** 2 / 2) for d in d50]),
            ("Mode", [d * math.exp(-(math.log(gsd) ** 2)) for d in d50]),
            ("SD", [d * math.sqrt((math.exp(math.log(gsd) ** 2) - 1) * math.exp(math.log(gsd) ** 2)) for d in d50]),
            ("D10", [d * gsd**-1.2816 for d in d50]),
            ("D50", d50),
            ("D90", [d * gsd**1.2816 for d in d50]),
        ):
            m = sum(vals) / videos
            extra = [num(m, ".1f"), num(0.5, ".1f")] if two else []
            out += [row(stat, *[num(v, ".1f") for v in vals], *extra)]
        out += [row("Graph Data")]
        conc_cols = ["Concentration (particles / ml)"] * videos
        out += [row("Bin centre (nm)", *conc_cols, *(("Concentration average", "Standard Error") if two else ()))]
        for i, c in enumerate(centres):
            vals = [pv[i] for pv in per_video]
            m = sum(vals) / videos
            extra = [str(round(m)), "0"] if two else []
            out += [row(num(c, ".1f"), *[str(v) for v in vals], *extra)]
        out += [""]
    return out


def zetaview(dilution: str | None = "1000.000000", conc_total: float = 2.0e7, bad_row: int | None = None) -> list[str]:
    """Lines of a ZetaView 8 size-distribution export (linear 5 nm bins, then a log block)."""
    head = [
        "Original File:\tC:\\ZetaView\\20260110_0001_EV_harvest_size_488.avi\tSection:\t0.1 [0]",
        "Operator:\tlab",
        "Experiment:\t20260110_0001",
        "Software:\tZetaView (version 8.06.01 SP1)\tAnalyze:\t8.06.01 SP1",
        "Sample:\tEV harvest batch 2",
        "Electrolyte:\tPBS",
        "Temperature:\t24.050000\tsensed",
        "Viscosity:\t0.919258",
        "Date:\t2026-01-10",
        "Positions:\t11",
        "Number of Traces:\t1733",
    ]
    if dilution is not None:
        head.append(f"Dilution::\t{dilution}")
    head += [
        "Laser Wavelength nm:\t488.000000",
        "Sensitivity:\t80.000000",
        "Shutter:\t100.000000",
        "Minimum Brightness:\t30",
        "Minimum Area:\t10",
        "Maximum Area:\t1000",
        "Minimum Tracelength:\t15",
        "",
        "Size Distribution",
        "Size / nm\tNumber\tConcentration / cm-3\tVolume / nm^3\tArea / nm^2",
    ]
    centres = [2.5 + 5 * k for k in range(200)]
    conc = lognormal_bins(conc_total, 110.0, 1.5, centres, 5.0)
    body = []
    for i, (c, v) in enumerate(zip(centres, conc, strict=True)):
        number = round(v / 1.0e4)
        cell = "n/a" if bad_row is not None and i == bad_row else f"{v:.3E}"
        body.append(f"{c:.1f}\t{number}\t{cell}\t{math.pi / 6 * c**3 * number:.3E}\t{math.pi * c**2 * number:.3E}")
    tail = ["-1.000E+0\t-1.000E+0\t-1.000E+0\t-1.000E+0\t-1.000E+0", "1.000E+1\t0\t0.000E+0\t0.000E+0\t0.000E+0"]
    return head + body + tail


def write(name: str, lines: list[str], encoding: str = "utf-8") -> None:
    (HERE / name).write_text("\n".join(lines) + "\n", encoding=encoding)


def main() -> None:
    seven = [3.1e8, 2.9e8, 3.3e8, 3.0e8, 3.2e8, 2.8e8, 3.05e8]
    write("nanosight_seven_videos_dilution_500.csv", nanosight(7, seven, dilution="500"))
    write(
        "nanosight_nta34_one_video.csv",
        nanosight(
            1,
            [4.4e8],
            version="NTA 3.4 Build 3.4.4",
            labels={"Concentration (Particles / ml)": "concentration (particles/ml)", "Camera Level": "CAMERA LEVEL"},
            settings_first=True,
        ),
    )
    write(
        "nanosight_decimal_comma.csv",
        nanosight(3, [1.2e9, 1.1e9, 1.3e9], delimiter=";", decimal_comma=True),
        encoding="cp1252",
    )
    write("nanosight_no_settings_no_size.csv", nanosight(2, [5.0e8, 5.2e8], omit=("conditions", "settings", "size")))
    # bad files: the line that is wrong is named in the test
    good = nanosight(3, [2.0e8, 2.1e8, 1.9e8], bins=120)
    bad = list(good)
    i = next(k for k, x in enumerate(bad) if x.startswith("Concentration (Particles / ml)"))
    bad[i] = bad[i].replace("2.10e+08", "2.1O+08")  # letter O for zero
    write("bad_concentration_not_a_number.csv", bad)
    bad = list(good)
    i = next(k for k, x in enumerate(bad) if x.startswith("60.5,"))
    bad[i] = "60.5,-3,5,5,-1,0,"
    write("bad_negative_bin.csv", bad)
    bad = list(good)
    i = next(k for k, x in enumerate(bad) if x.startswith("Dilution factor"))
    bad[i] = "Dilution factor (concentrations adjusted for this factor),0,0,0,,,"
    write("bad_dilution_zero.csv", bad)
    bad = list(good)
    i = next(k for k, x in enumerate(bad) if x.startswith("80.5,"))
    bad[i] = "80.5,1,2"
    bad[i + 1] = "8#"
    write("bad_truncated_table.csv", bad[: i + 2])
    write("bad_no_results.csv", nanosight(3, [2.0e8, 2.1e8, 1.9e8], omit=("results",), bins=50))
    write("bad_not_nta.csv", ["batch,time,variable,value", "B1,0,glucose,5.5"])
    write("zetaview_8_06.txt", zetaview(), encoding="cp1252")
    write("zetaview_no_dilution.txt", zetaview(dilution=None))
    write("bad_zetaview_value.txt", zetaview(bad_row=40))


if __name__ == "__main__":
    main()
