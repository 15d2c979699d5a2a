"""Array-level solvers: they take a :class:`~electsec.problem.Problem`, never geometry.

The package imports none of its modules, so ``electsec.solvers.flow`` (or ``diagnose``,
``bottleneck``) loads only what it needs: numpy, scipy and OR-Tools' graph solvers.
OR-Tools' CP-SAT wrapper imports pandas, so the modules that build whole-team models
load it through :func:`electsec.solvers.cpsat.cp_sat` when they build one: every module
here imports with pandas absent.
"""
