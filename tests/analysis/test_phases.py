from rundir_factory import T0, activity, event, timeline

from harness.analysis.phases import Window, phases


def test_phases_of_a_run_with_one_fault_and_rollback():
    result = phases(timeline(load_s=60, warmup_s=5, faults=[(20, 30)]))
    assert result["warmup"] == (Window(T0, T0 + 5),)
    # baseline ends at the first method activity (a probe half a second before the action),
    # snapped inwards to whole seconds
    assert result["baseline"] == (Window(T0 + 5, T0 + 19),)
    assert result["fault"] == (Window(T0 + 20, T0 + 30),)
    assert result["recovery"] == (Window(T0 + 30, T0 + 60),)
    assert result["run"] == (Window(T0 + 5, T0 + 60),)


def test_fault_ends_at_the_method_end_without_rollbacks():
    result = phases(timeline(faults=[(20, 27)], rollback=False))
    assert result["fault"] == (Window(T0 + 20, T0 + 27),)


def test_several_experiments_give_one_fault_and_recovery_window_each():
    result = phases(timeline(load_s=120, faults=[(20, 30), (60, 70)]))
    assert result["fault"] == (Window(T0 + 20, T0 + 30), Window(T0 + 60, T0 + 70))
    # the first recovery ends where the second experiment's method begins
    assert result["recovery"] == (Window(T0 + 30, T0 + 59), Window(T0 + 70, T0 + 120))


def test_no_chaos_makes_the_baseline_the_whole_run():
    result = phases(timeline(load_s=30, warmup_s=5))
    assert result["baseline"] == (Window(T0 + 5, T0 + 30),)
    assert result["fault"] == () and result["recovery"] == ()


def test_interrupted_fault_ends_at_experiment_end():
    events = [
        event(T0, "load-start"),
        event(T0 + 5, "warmup-end"),
        event(T0 + 19, "experiment-start", "chaos"),
        activity(T0 + 20, "activity-start", "method"),
        activity(T0 + 21, "activity-end", "method"),
        activity(T0 + 22, "activity-start", "method", "probe"),
        event(T0 + 25, "experiment-end", "chaos"),
        event(T0 + 40, "load-stop"),
    ]
    assert phases(events)["fault"] == (Window(T0 + 20, T0 + 25),)


def test_warmup_argument_is_used_without_warmup_end_event():
    events = [event(T0, "load-start"), event(T0 + 30, "load-stop")]
    assert phases(events, warmup=10)["run"] == (Window(T0 + 10, T0 + 30),)


def test_no_load_events_gives_no_phases():
    assert all(windows == () for windows in phases([]).values())


def test_window_seconds_assigns_each_second_by_its_midpoint():
    assert list(Window(10.0, 13.0).seconds()) == [10, 11, 12]
    assert list(Window(10.6, 12.4).seconds()) == [11]


def test_a_fault_window_grows_to_whole_seconds_and_its_neighbours_shrink():
    """A second touched by the fault belongs to the fault, never to baseline or recovery."""
    result = phases(timeline(load_s=60, warmup_s=5, faults=[(20.6, 30.2)]))
    assert result["fault"] == (Window(T0 + 20, T0 + 31),)
    assert result["baseline"] == (Window(T0 + 5, T0 + 20),)
    assert result["recovery"] == (Window(T0 + 31, T0 + 60),)
