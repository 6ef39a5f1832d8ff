"""benchmarks/gpu_report.py: reading a GPU check's test report and benchmarks.

The GPU node's output is parsed here, where there is no GPU: a crash, a
failed comparison, a skip and a cut-off report must each come out as what
they are, never as a pass.
"""

import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("gpu_report", ROOT / "benchmarks" / "gpu_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


XML = """<?xml version="1.0" encoding="UTF-8"?>
<Catch name="sozai_tests" filters="[cuda]">
  <Group name="sozai_tests">
    <TestCase name="CUDA acquisition matches the CPU reference" tags="[cuda]" filename="a.cpp" line="1">
      <OverallResult success="true" durationInSeconds="0.4"/>
    </TestCase>
    <TestCase name="skipped one" tags="[cuda]" filename="b.cpp" line="1">
      <Warning filename="b.cpp" line="2">
        SKIPPED: no CUDA device
      </Warning>
      <OverallResult success="true" durationInSeconds="0.0"/>
    </TestCase>
    <TestCase name="wrong one" tags="[cuda]" filename="/x/c.cpp" line="1">
      <Expression success="false" type="CHECK" filename="/x/c.cpp" line="9">
        <Original>max_abs_diff(a, b) &lt; tol</Original>
        <Expanded>0.5 &lt; 0.0001</Expanded>
      </Expression>
      <OverallResult success="false" durationInSeconds="0.1"/>
    </TestCase>
    <TestCase name="crashing one, with a comma" tags="[cuda]" filename="/x/d.cpp" line="1">
      <Expression success="false" filename="/x/d.cpp" line="229">
        <Original>{Unknown expression after the reported line}</Original>
        <Expanded>{Unknown expression after the reported line}</Expanded>
        <FatalErrorCondition filename="/x/d.cpp" line="229">SIGSEGV - Segmentation violation signal</FatalErrorCondition>
      </Expression>
      <OverallResult success="false" durationInSeconds="3.3"/>
    </TestCase>
  </Group>
</Catch>
"""


def test_each_outcome_is_named(report, tmp_path):
    (tmp_path / "t.xml").write_text(XML)
    rows, note = report.cuda_tests(tmp_path / "t.xml")
    assert note == ""
    status = {name: (s, detail) for name, s, _, detail in rows}
    assert status["CUDA acquisition matches the CPU reference"][0] == "passed"
    assert status["skipped one"] == ("skipped", "SKIPPED: no CUDA device")
    assert status["wrong one"][0] == "FAILED"
    assert "c.cpp:9" in status["wrong one"][1] and "0.5 < 0.0001" in status["wrong one"][1]
    assert status["crashing one, with a comma"][0] == "FAILED"


def test_a_cut_off_or_missing_report_is_said(report, tmp_path):
    (tmp_path / "t.xml").write_text(XML[: len(XML) // 2])
    rows, note = report.cuda_tests(tmp_path / "t.xml")
    assert rows == [] and "not complete XML" in note
    rows, note = report.cuda_tests(tmp_path / "absent.xml")
    assert rows == [] and "no CUDA test report" in note


def test_cases_are_found_with_or_without_their_arguments(report, tmp_path):
    data = {"bench_screening": {"benchmarks": [
        {"name": "screen/cuda/16777216/1/real_time", "items_per_second": 4.8e7},
        {"name": "topk/fused/cuda/67108864/1/real_time", "error_occurred": True, "error_message": "no CUDA device"}]},
        "bench_anchors": {"botorch_screen_float32": {"candidates_per_s": 8e6}}}
    (tmp_path / "b.json").write_text(json.dumps(data))
    benches = report.load_benchmarks(tmp_path / "b.json")
    assert report.rate(benches, "bench_screening", "screen/cuda") == 4.8e7
    assert report.rate(benches, "bench_screening", "screen/cuda/16777216/1/real_time") == 4.8e7
    assert report.rate(benches, "bench_screening", "topk/fused/cuda") is None  # an error is no rate
    assert report.rate(benches, "bench_screening", "screen/cpu") is None
    assert report.rate(benches, "bench_missing", "screen/cuda") is None
    assert benches["bench_anchors"]["botorch_screen_float32"]["candidates_per_s"] == 8e6


def test_the_committed_h200_run_reads_as_all_passed(report):
    rows, note = report.cuda_tests(ROOT / "benchmarks" / "results" / "gpu" / "cuda-tests.xml")
    assert note == "" and len(rows) == 10
    assert all(s == "passed" for _, s, _, _ in rows)
