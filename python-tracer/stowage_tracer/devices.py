"""What this host can trace on. A queue is served only where its processor really exists."""

import glob
import importlib.util
import os
from dataclasses import dataclass

import psutil
import torch

from .wire import DeviceDescription, Processor

GIB = 1024**3


@dataclass(frozen=True)
class HostDevices:
    cuda_available: bool
    neuron_available: bool
    cuda: list[DeviceDescription]
    neuron_cores: int

    def devices_for(self, processor: Processor) -> list[DeviceDescription]:
        if processor == "gpu":
            return self.cuda
        if processor == "inf":
            return [
                DeviceDescription(index=i, name="NeuronCore", memory_gi_b=0.0)
                for i in range(self.neuron_cores)
            ]
        return [
            DeviceDescription(
                index=0, name=cpu_name(), memory_gi_b=round(psutil.virtual_memory().total / GIB, 2)
            )
        ]

    def serves(self) -> list[Processor]:
        served: list[Processor] = ["cpu"]
        if self.cuda_available:
            served.append("gpu")
        if self.neuron_available:
            served.append("inf")
        return served

    def refusal(self, processor: Processor) -> str | None:
        """Why this host must not serve the processor's queue, or None if it may."""
        if processor == "gpu" and not self.cuda_available:
            return "no CUDA device is visible (torch.cuda.is_available() is False)"
        if processor == "inf" and not self.neuron_available:
            return "no Inferentia device is visible (no /dev/neuron* and no torch_neuron/torch_neuronx)"
        return None


def discover() -> HostDevices:
    cuda = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            cuda.append(
                DeviceDescription(index=i, name=props.name, memory_gi_b=round(props.total_memory / GIB, 2))
            )
    neuron_devices = glob.glob("/dev/neuron*")
    neuron_sdk = any(importlib.util.find_spec(m) is not None for m in ("torch_neuron", "torch_neuronx"))
    # An inf1 device has 4 NeuronCores; the runtime's own count is authoritative when the SDK is present.
    neuron_cores = int(os.environ.get("NEURON_RT_NUM_CORES", 4 * len(neuron_devices)))
    return HostDevices(
        cuda_available=bool(cuda),
        neuron_available=bool(neuron_devices) and neuron_sdk,
        cuda=cuda,
        neuron_cores=neuron_cores,
    )


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"
