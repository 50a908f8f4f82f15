"""The analysis stage: pure functions of a run directory (no network, no processes).

rundir       read events.jsonl, samples/, ledger/ into arrays
rowcodec     strict, fast decoding of sample rows (msgspec), falling back to json
phases       warmup/baseline/fault/recovery/run windows from the timeline
hist         vectorised percentiles over many merged histograms at once
slis         every SLI per phase and endpoint, and per second
recovery     recovery_time per fault
degradation  fault against baseline: ratio and Mann-Whitney U p-value
verdicts     pass | fail | no-data per SLO, with evidence
experiment_checks  whether each chaos experiment ran as written (fails the run when not)
status       run status and exit code
result       analyse(run_dir) and the versioned result.json document
"""

from harness.analysis.result import Analysis, analyse, exit_code, result_document

__all__ = ["Analysis", "analyse", "exit_code", "result_document"]
