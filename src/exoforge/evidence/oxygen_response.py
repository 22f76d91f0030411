"""How much of the pooled hypoxia effect on EV secretion applies at a given O2 level.

The pooled hypoxia multiplier (:mod:`exoforge.evidence.hierarchy`) is the effect measured at 5 %
O2 against air, by both comparisons it is emulated from: adipose MSC showed no significant change in
EV concentration (Almeria et al. 2019, doi:10.3389/fbioe.2019.00292, Abstract), and human cardiac
progenitor cells gave 1.6-fold more exosomes at 5 % O2 than at 21 % (Dougherty et al. 2020,
doi:10.3389/fcell.2020.00130, Abstract), while 1 % O2 gave no such gain. Only the second measured
more than two levels, so the response, the fraction of the pooled ln effect that applies, is read
off its three levels and interpolated linearly between them:

* at or below 1 % O2: 0 (no gain at 1 %, Dougherty 2020);
* at 5 % O2: 1 (the level the effect was measured at);
* at 21 % O2 (air): 0 (the control).

This rests on one study of non-MSC cells at three levels; the shape between them (linear) is an
assumption, and every run with hypoxia says so in its warnings. The one MSC study with more than two
levels disagrees with it: placental MSC released 3.3-fold more exosomes at 1 % O2 and 6.7-fold more
at 3 % than at 8 % (Salomon et al. 2013, doi:10.1371/journal.pone.0068451, Abstract), a gain at 1 %
where this response has none, against a control that it counts as mostly hypoxic. Without an air
arm that study cannot set the response, so its records are not emulated, and the warning names it.
"""

from __future__ import annotations

import numpy as np

#: (O2 percent, fraction of the pooled ln effect), Dougherty 2020 (doi:10.3389/fcell.2020.00130).
RESPONSE_POINTS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (5.0, 1.0), (21.0, 0.0))
#: O2 percent of air (the control arm of every hypoxia comparison).
AIR_O2_PERCENT = 20.9
#: O2 level a scenario with 'hypoxia' and no oxygen_percent runs at: where the effect was measured.
DEFAULT_HYPOXIA_O2_PERCENT = 5.0


def hypoxia_response(o2_percent: float | np.ndarray) -> np.ndarray:
    """Fraction (0-1) of the pooled hypoxia ln effect that applies at ``o2_percent`` O2 in the gas phase."""
    x = [p for p, _ in RESPONSE_POINTS]
    y = [f for _, f in RESPONSE_POINTS]
    return np.asarray(np.interp(np.asarray(o2_percent, dtype=float), x, y, left=0.0, right=0.0), dtype=float)


def response_warning(o2_percent: float) -> str:
    """What a run with hypoxia at ``o2_percent`` rests on."""
    frac = float(hypoxia_response(o2_percent))
    return (
        f"hypoxia at {o2_percent:g} % O2 takes {frac:.0%} of the pooled hypoxia effect (on the log scale): the O2 "
        "response (full at 5 %, none at 1 % or in air) rests on one study of cardiac progenitor cells "
        "(Dougherty 2020), interpolated linearly; an MSC study found gains at 1 % and 3 % O2 over 8 % (Salomon 2013, "
        "placental MSC, 3.3- and 6.7-fold), which this response does not reproduce"
    )
