"""The data-flow ledger: writing, reading back, and reconciling produced against consumed."""

from __future__ import annotations

import json

from harness.load.ledger import LedgerWriter, read_rows, reconcile


def write_rows(path, rows):
    writer = LedgerWriter(path)
    for event_id, ts in rows:
        writer.record(event_id, ts)
    writer.close()


def test_writer_keeps_rows_in_memory_until_flush(tmp_path):
    writer = LedgerWriter(tmp_path / "produced.jsonl")
    writer.record("a", 1.0)
    assert (tmp_path / "produced.jsonl").read_text() == ""
    assert writer.flush() == 1
    assert json.loads((tmp_path / "produced.jsonl").read_text()) == {"id": "a", "ts": 1.0}


def test_written_rows_read_back_in_order(tmp_path):
    write_rows(tmp_path / "produced.jsonl", [("a", 1.0), ("b", 2.5)])
    result = read_rows([tmp_path / "produced.jsonl"])
    assert result.rows == ({"id": "a", "ts": 1.0}, {"id": "b", "ts": 2.5})
    assert result.bad_lines == 0


def test_torn_last_line_is_skipped_and_counted(tmp_path):
    path = tmp_path / "consumed.jsonl"
    path.write_text('{"id":"a","ts":1.0}\n{"id":"b","t')
    result = read_rows([path])
    assert [row["id"] for row in result.rows] == ["a"]
    assert result.bad_lines == 1


def test_reopening_a_torn_file_does_not_glue_the_next_row_to_it(tmp_path):
    path = tmp_path / "consumed.jsonl"
    path.write_text('{"id":"a","ts":1.0}\n{"id":"b","t')
    write_rows(path, [("c", 3.0)])
    assert [row["id"] for row in read_rows([path]).rows] == ["a", "c"]


def test_reconcile_lists_lost_events_with_their_produced_time(tmp_path):
    write_rows(tmp_path / "produced.jsonl", [("a", 1.0), ("b", 2.0), ("c", 3.0)])
    write_rows(tmp_path / "consumed.jsonl", [("b", 2.1)])
    summary = reconcile(tmp_path)
    assert summary.lost == (("a", 1.0), ("c", 3.0))
    assert (summary.produced, summary.consumed) == (3, 1)


def test_reconcile_counts_extra_deliveries_as_duplicates(tmp_path):
    write_rows(tmp_path / "produced.jsonl", [("a", 1.0), ("b", 2.0)])
    write_rows(tmp_path / "consumed.jsonl", [("a", 1.1), ("a", 1.5), ("a", 1.7), ("b", 2.2), ("b", 2.4)])
    summary = reconcile(tmp_path)
    assert summary.duplicated == 3
    assert summary.duplicated_ids == ("a", "b")
    assert summary.lost == ()


def test_reconcile_measures_e2e_latency_to_the_first_delivery(tmp_path):
    write_rows(tmp_path / "produced.jsonl", [("a", 10.0), ("b", 11.0)])
    write_rows(tmp_path / "consumed.jsonl", [("b", 11.25), ("a", 10.5), ("a", 12.0)])
    summary = reconcile(tmp_path)
    assert summary.e2e == ((10.0, 0.5), (11.0, 0.25))
    assert summary.e2e_latency_s == (0.5, 0.25)


def test_reconcile_counts_consumed_ids_nobody_produced_as_unexpected(tmp_path):
    write_rows(tmp_path / "produced.jsonl", [("a", 1.0)])
    write_rows(tmp_path / "consumed.jsonl", [("a", 1.1), ("old-1", 0.5), ("old-2", 0.6)])
    assert reconcile(tmp_path).unexpected == 2


def test_reconcile_reads_every_per_writer_file(tmp_path):
    write_rows(tmp_path / "produced-101.jsonl", [("a", 1.0)])
    write_rows(tmp_path / "produced-102.jsonl", [("b", 1.0)])
    write_rows(tmp_path / "consumed.jsonl", [("a", 1.2)])
    summary = reconcile(tmp_path)
    assert summary.produced == 2
    assert summary.lost == (("b", 1.0),)


def test_reconcile_accepts_the_run_directory(tmp_path):
    write_rows(tmp_path / "ledger" / "produced.jsonl", [("a", 1.0)])
    assert reconcile(tmp_path).lost == (("a", 1.0),)


def test_reconcile_without_a_sink_file_reports_every_event_lost(tmp_path):
    write_rows(tmp_path / "produced.jsonl", [("a", 1.0), ("b", 2.0)])
    assert len(reconcile(tmp_path).lost) == 2


def test_reconcile_survives_a_torn_line_in_both_files(tmp_path):
    (tmp_path / "produced.jsonl").write_text('{"id":"a","ts":1.0}\n{"id":"b","ts":2.0}\n{"id":')
    (tmp_path / "consumed.jsonl").write_text('{"id":"a","ts":1.5}\n{"i')
    summary = reconcile(tmp_path)
    assert summary.lost == (("b", 2.0),)
    assert summary.e2e == ((1.0, 0.5),)
    assert summary.bad_lines == 2
