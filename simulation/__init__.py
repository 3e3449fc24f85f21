"""Simulated days of dispatch, faster than real time, through the engine's own core.

Pure: the road network (a `routing.Router`), the settings and a seed come in; what
happened to every call comes out. The `tot simulate` command (tot/simulate.py) runs
many seeds, writes the report and draws the plots.
"""

from simulation.day import ARRIVED, NO_DOCTOR, OPEN, DayResult, simulate_day
from simulation.policies import Policy, SimCandidates
from simulation.scenario import Scenario, SimConfig, make_scenario

__all__ = [
    "ARRIVED",
    "NO_DOCTOR",
    "OPEN",
    "DayResult",
    "Policy",
    "Scenario",
    "SimCandidates",
    "SimConfig",
    "make_scenario",
    "simulate_day",
]
