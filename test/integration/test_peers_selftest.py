"""Our own test peers check themselves on this machine before tests rely on them: the MSRP
client (test/peers/msrp_client.py) against its built-in echo endpoint, and the Kamailio MSRP
relay harness (test/peers/kamailio_relay.py, a real RFC 4976 relay) with that client."""
import os
import subprocess
import sys

import pytest

PEERS = os.path.join(os.path.dirname(__file__), "..", "peers")


@pytest.mark.parametrize("script", ["msrp_client.py", "kamailio_relay.py"])
def test_peer_selftest(script):
    r = subprocess.run([sys.executable, os.path.join(PEERS, script), "--selftest"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{script} self-test failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
