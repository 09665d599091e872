"""HiGHS's C-level prints must not reach stdout: ``plan --json`` promises one JSON document."""

import os

from phusong.planning._solver_stdout import solver_stdout_to_stderr


def test_descriptor_1_goes_to_stderr_inside_and_comes_back(capfd):
    print("before", flush=True)
    with solver_stdout_to_stderr():
        os.write(1, b"HighsMipSolverData chatter\n")  # what HiGHS's C++ does
    print("after", flush=True)
    out, err = capfd.readouterr()
    assert out == "before\nafter\n"
    assert err == "HighsMipSolverData chatter\n"


def test_nested_use_restores_stdout(capfd):
    with solver_stdout_to_stderr():
        with solver_stdout_to_stderr():
            os.write(1, b"x\n")
    os.write(1, b"y\n")
    out, err = capfd.readouterr()
    assert out == "y\n" and err == "x\n"


def test_siting_through_highspy_prints_nothing_on_stdout(capfd):
    """The MILP, the LP bound and the cover MILP run through highspy with its log off; not one
    byte reaches descriptor 1 (the CLI's ``--json`` stdout)."""
    import numpy as np
    import scipy.sparse as sp

    from phusong.planning.siting import MaximalCovering, SetCovering

    rng = np.random.default_rng(3)
    A = sp.random(400, 60, density=0.05, random_state=rng, format="csr")
    w = rng.integers(1, 50, 400).astype(float)
    MaximalCovering.from_coverage(A, w, n_sites=6).solve(method="milp")
    MaximalCovering.from_coverage(A, w, n_sites=6).solve(method="local")
    reach = np.asarray(A.sum(axis=1)).ravel() > 0
    pct = 60.0 * w[reach].sum() / w.sum()
    SetCovering.from_coverage(A, w, target_pct=pct).solve(method="milp")
    out, err = capfd.readouterr()
    assert out == "", out
