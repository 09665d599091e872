"""What binds a missed target: the budget only when the money left buys nothing that would move
it (the last stop's known mislabel: "budget" with money left).

The year result is a stand-in with the fields ``missed_targets`` reads; the figures are chosen so
each branch is decided by one comparison, with margins far above float rounding.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong.maps._tables import _bind_text
from phusong.planning._plan_figures import _money_binds
from phusong.planning.scenario import scenario_from_dict

SCENARIO = scenario_from_dict({})
PER_HOME = SCENARIO.costs.ftth_vnd_per_home


def _target(indicator):
    return SimpleNamespace(indicator=indicator, threshold_pct=90.0, denominator="population")


def _mobile_year(money, spent, costs, chosen, covered_after):
    # 3 villages × len(costs) candidates; candidate j covers village j (mod 3)
    n = len(costs)
    a = sp.csr_matrix((np.ones(n), (np.arange(n) % 3, np.arange(n))), shape=(3, n))
    return SimpleNamespace(
        money={"mobile": money, "fibre": 0.0}, spent_mobile=spent, coverage={"4G": a},
        chosen=np.asarray(chosen, dtype=np.int64),
        candidates=pd.DataFrame({"cost_vnd": np.asarray(costs, float)}),
        after=SimpleNamespace(cov=pd.DataFrame({"covered_4G": covered_after})),
        fibre=SimpleNamespace(extension_cost=0.0, info={}))


def test_mobile_budget_binds_only_when_the_rest_buys_no_useful_candidate():
    ctx = SimpleNamespace(scenario=SCENARIO)
    t = _target("mobile_4G")
    # village 2 uncovered; its only candidate (index 2) costs 5 bn, 1 bn is left: budget binds
    res = _mobile_year(10e9, 9e9, [4e9, 5e9, 5e9], [0, 1], [True, True, False])
    assert _money_binds(ctx, res, t, 1.0) == "budget"
    # 6 bn left would buy it: the siting stopped short, and the figure says how much was left
    res = _mobile_year(15e9, 9e9, [4e9, 5e9, 5e9], [0, 1], [True, True, False])
    got = _money_binds(ctx, res, t, 1.0)
    assert got.startswith("the siting stopped short of the money")
    assert "6,000,000,000 VND left" in got and "(5,000,000,000 VND)" in got
    # a candidate whose villages are all covered already is no use, however cheap
    res = _mobile_year(15e9, 9e9, [4e9, 5e9, 9e9, 1e6], [0, 1], [True, True, False])
    assert _money_binds(ctx, res, t, 1.0) == "budget"


def _fibre_year(money, spent, status):
    return SimpleNamespace(money={"mobile": 0.0, "fibre": money},
                           fibre=SimpleNamespace(extension_cost=spent, info={"status": status}))


def test_fibre_budget_label_says_what_was_left():
    ctx = SimpleNamespace(scenario=SCENARIO)
    t = _target("fibre_available")
    # less than one home's access network left: the budget binds
    assert _money_binds(ctx, _fibre_year(1e9, 1e9 - 0.5 * PER_HOME, "budget binds"), t,
                        1.0) == "budget"
    # more left than the router placed: still the budget, as the router fits it, with the sum
    got = _money_binds(ctx, _fibre_year(1e9, 0.4e9, "budget binds"), t, 1.0)
    assert got.startswith("budget as the router fits it") and "600,000,000 VND" in got
    # the fibre step met the target on the villages' households: the money is not what binds
    got = _money_binds(ctx, _fibre_year(1e9, 0.2e9, "met"), t, 0.9)
    assert got.startswith("met on the households the villages carry") and "10.0 %" in got
    assert "budget" not in got


def test_briefing_translates_each_label_by_its_own_phrase():
    assert _bind_text("budget") == "ngân sách / budget"
    assert _bind_text("budget as the router fits it: 1 VND").startswith(
        "ngân sách theo cách bộ định tuyến bố trí: 1 VND / budget as")
    assert _bind_text("the siting stopped short of the money: x").startswith(
        "việc chọn trạm dừng trước khi hết tiền: x / ")
