import pytest
from temporalio.exceptions import ApplicationError

from stowage_tracer.wire import TracerDescribeInput, parse


def test_camel_case_payload_is_accepted():
    request = parse(TracerDescribeInput, {"processor": "cpu", "benchmarkMs": 250})
    assert request.benchmark_ms == 250
    assert request.to_wire() == {"processor": "cpu", "benchmarkMs": 250}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"processor": "tpu"}, "processor"),
        ({"processor": "cpu", "benchmarkMs": -1}, "benchmarkMs"),
        ({"processor": "cpu", "extra": 1}, "extra"),
        ("not an object", "(input)"),
    ],
)
def test_bad_input_is_non_retryable_and_names_the_field(payload, fragment):
    with pytest.raises(ApplicationError) as caught:
        parse(TracerDescribeInput, payload)
    assert caught.value.non_retryable
    assert caught.value.type == "InvalidInput"
    assert fragment in str(caught.value)
