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
