import subprocess
import sys

import pytest

from stowage_tracer.devices import HostDevices, discover
from stowage_tracer.worker import RefusedQueueError, choose_processors

CPU_ONLY = HostDevices(cuda_available=False, neuron_available=False, cuda=[], neuron_cores=0)


def test_auto_serves_cpu_plus_detected_accelerators():
    assert choose_processors(None, CPU_ONLY) == ["cpu"]
    gpu_host = HostDevices(cuda_available=True, neuron_available=False, cuda=[], neuron_cores=0)
    assert choose_processors(None, gpu_host) == ["cpu", "gpu"]


@pytest.mark.parametrize(
    ("processor", "reason"), [("gpu", "no CUDA device"), ("inf", "no Inferentia device")]
)
def test_refuses_a_queue_whose_processor_is_absent(processor, reason):
    with pytest.raises(RefusedQueueError, match=f"stowage-tracer-{processor}: {reason}"):
        choose_processors(["cpu", processor], CPU_ONLY)


def test_worker_command_refuses_absent_processor_with_exit_2():
    if discover().cuda_available:
        pytest.skip("this host has a CUDA GPU, so the gpu queue is legitimately served")
    result = subprocess.run(
        [sys.executable, "-m", "stowage_tracer", "worker", "--processors", "gpu"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to serve stowage-tracer-gpu: no CUDA device is visible" in result.stderr


def test_worker_command_rejects_unknown_processor_names():
    result = subprocess.run(
        [sys.executable, "-m", "stowage_tracer", "worker", "--processors", "cpu,tpu"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "expected 'auto' or a comma list of cpu, gpu, inf" in result.stderr
