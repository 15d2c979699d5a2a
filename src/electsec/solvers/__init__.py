"""Array-level solvers: they take a :class:`~electsec.problem.Problem`, never geometry.

The package imports none of its modules, so ``electsec.solvers.flow`` (or ``diagnose``,
``bottleneck``) loads only what it needs: numpy, scipy and OR-Tools' graph solvers. The
modules that use CP-SAT (``cpsat``, ``single``, ``backup``, ``cover``, ``decompose``,
``pipeline``) also load pandas, because OR-Tools' ``cp_model`` imports it.
"""
