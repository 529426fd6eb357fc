"""Temporal connection settings from the environment (the official Temporal CLI's variable names)."""

import os
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, TLSConfig


@dataclass(frozen=True)
class TemporalSettings:
    address: str
    namespace: str
    tls: bool
    tls_cert: str | None
    tls_key: str | None
    tls_ca: str | None
    tls_server_name: str | None
    api_key: str | None

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> "TemporalSettings":
        env = dict(os.environ) if env is None else env

        def get(key: str) -> str | None:
            return env.get(key) or None

        return TemporalSettings(
            address=get("TEMPORAL_ADDRESS") or "localhost:7233",
            namespace=get("TEMPORAL_NAMESPACE") or "default",
            tls=get("TEMPORAL_TLS") == "true",
            tls_cert=get("TEMPORAL_TLS_CERT"),
            tls_key=get("TEMPORAL_TLS_KEY"),
            tls_ca=get("TEMPORAL_TLS_CA"),
            tls_server_name=get("TEMPORAL_TLS_SERVER_NAME"),
            api_key=get("TEMPORAL_API_KEY"),
        )

    def tls_config(self) -> TLSConfig | bool:
        if self.tls_cert or self.tls_ca or self.tls_server_name:
            return TLSConfig(
                client_cert=Path(self.tls_cert).read_bytes() if self.tls_cert else None,
                client_private_key=Path(self.tls_key).read_bytes() if self.tls_key else None,
                server_root_ca_cert=Path(self.tls_ca).read_bytes() if self.tls_ca else None,
                domain=self.tls_server_name,
            )
        # Temporal Cloud's API keys only travel over TLS.
        return self.tls or self.api_key is not None

    async def connect(self) -> Client:
        return await Client.connect(
            self.address, namespace=self.namespace, tls=self.tls_config(), api_key=self.api_key
        )
