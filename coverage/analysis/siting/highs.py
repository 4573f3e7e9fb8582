"""The HiGHS side: pass a sparse row-wise model to ``highspy`` and read back the solution.

Exact solutions are optimal within HiGHS's tolerances (``mip_rel_gap`` 0 by default, absolute gap
1e-6). When several site sets are optimal, HiGHS's choice is deterministic for the same input
(``random_seed`` 0) but is not guaranteed to be the lowest-index one.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp



def new_highs():
    """A HiGHS instance that prints nothing: HiGHS writes its banner to the C-level stdout when the
    first instance of a process is made, before any option can be set, so file descriptor 1 is
    pointed at /dev/null for that moment (a planner's console shows the tool's lines only)."""
    import os
    import sys

    import highspy
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):      # no real stdout (a notebook): nothing to hide
        fd = None
    if fd is None:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(fd)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), fd)
                h = highspy.Highs()
        finally:
            os.dup2(saved, fd)
            os.close(saved)
    h.setOptionValue("output_flag", False)
    return h

def _highs_solve(n_x, n_y, cost, sense_max, rows_csr, row_lo, row_up, start, time_limit,
                 mip_rel_gap, mip_abs_gap=1e-6, col_upper=None, integer=True, objective_bound=None,
                 col_lower=None, presolve="choose", lp_duals=False):
    """Solve  max/min cost·v  s.t.  row_lo ≤ A v ≤ row_up,  col_lower ≤ v ≤ col_upper  (default
    0..1), with the first ``n_x`` columns integer (binary site variables) and the next ``n_y``
    continuous. ``start``: a full column vector passed as a MIP start. ``objective_bound``
    (maximisation): stop as soon as the dual bound proves the objective cannot reach it.

    Returns (status, x, dual_bound, mip_gap, seconds); ``x`` is the boolean site vector of the
    best solution found (None when there is none). For ``integer=False`` (an LP) the third value
    is the optimal LP objective and ``x`` the LP's column values (all columns; None when not
    solved), with ``lp_duals`` the triple (column values, reduced costs, row duals; for a
    maximisation a column at its lower bound has a reduced cost ≤ 0, and a "≤" row a dual ≥ 0).
    ``presolve``: HiGHS's presolve option ("choose", "on", "off").
    """
    import highspy

    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    h.setOptionValue("presolve", presolve)
    if objective_bound is not None:
        # maximisation that only needs to tell whether it can reach ``objective_bound``:
        # stop as soon as the dual bound proves it cannot
        def _stop_when_unreachable(e):
            if e.data_out.mip_dual_bound < objective_bound:
                e.interrupt()
        h.cbMipInterrupt.subscribe(_stop_when_unreachable)
    h.setOptionValue("random_seed", 0)
    n = n_x + n_y
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = rows_csr.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.zeros(n) if col_lower is None else np.asarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.ones(n) if col_upper is None else np.asarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_up, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if sense_max else highspy.ObjSense.kMinimize
    a = lp.a_matrix_
    a.format_ = highspy.MatrixFormat.kRowwise
    a.num_row_ = rows_csr.shape[0]
    a.num_col_ = n
    a.start_ = rows_csr.indptr.astype(np.int32)
    a.index_ = rows_csr.indices.astype(np.int32)
    a.value_ = rows_csr.data.astype(np.float64)
    if integer:
        lp.integrality_ = ([highspy.HighsVarType.kInteger] * n_x
                           + [highspy.HighsVarType.kContinuous] * n_y)
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        h.setSolution(sol)
    t0 = time.perf_counter()
    h.run()
    secs = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == 2:  # feasible solution available
        x = np.asarray(h.getSolution().col_value[:n_x]) > 0.5
    if not integer:
        ok = status == highspy.HighsModelStatus.kOptimal
        dual_bound = float(info.objective_function_value) if ok else math.nan
        cols = None
        if ok:
            sol = h.getSolution()
            cols = np.asarray(sol.col_value, dtype=np.float64)
            if lp_duals:
                cols = (cols, np.asarray(sol.col_dual, dtype=np.float64),
                        np.asarray(sol.row_dual, dtype=np.float64))
        return ("optimal" if ok else "not solved", cols, dual_bound, 0.0, time.perf_counter() - t0)
    name = {highspy.HighsModelStatus.kOptimal: "optimal",
            highspy.HighsModelStatus.kTimeLimit: "time_limit",
            highspy.HighsModelStatus.kInfeasible: "infeasible",
            highspy.HighsModelStatus.kInterrupt: "interrupted"}.get(status, h.modelStatusToString(status))
    return name, x, float(info.mip_dual_bound), float(info.mip_gap), secs


def _coverage_rows(R: sp.csr_array, n_x: int, extra_rows: list[np.ndarray]) -> sp.csr_array:
    """Rows y_j - sum_{i covers j} x_i <= 0 for merged demand j, then the given dense extra rows."""
    n_y = R.shape[1]
    Rt = sp.csr_array(R.T).astype(np.float64)
    link = sp.hstack([-Rt, sp.eye_array(n_y, format="csr")], format="csr")
    extra = sp.csr_array(np.vstack(extra_rows)) if extra_rows else None
    return sp.vstack([link, extra], format="csr") if extra is not None else link
