"""The balance driver against the simulator on loopback, in both protocols (issue 14 point 3).

What a real balance does at the worst moment — a value that moves before it settles, an overload or
underload, a unit other than grams, garbage bytes, silence, a connection dropped mid-answer — each
ends in a refusal that says what to do, never in a number that could be recorded."""

from __future__ import annotations

import socket
import threading
from decimal import Decimal

import pytest

from pharmacy.devices import balance
from pharmacy.devices.balance import (
    BalanceConfig,
    BalanceError,
    BalanceNotStable,
    BalanceOutOfRange,
    BalanceProtocolError,
    BalanceUnavailable,
)
from pharmacy.devices.simulator import BalanceSimulator

PROTOCOLS = ["mt-sics", "sbi"]


@pytest.fixture(params=PROTOCOLS)
def sim(request):
    with BalanceSimulator(request.param, serial_number="B123456789") as simulator:
        yield simulator


def _open(sim, timeout: float = 1.0):
    return balance.connect(f"{sim.url}?timeout={timeout}")


def test_the_empty_syringe_is_tared_and_the_filled_one_weighed_to_a_stable_net_mass(sim):
    sim.place("6.5210")  # the empty syringe
    with _open(sim) as scale:
        assert scale.serial_number() == "B123456789"
        tare = scale.tare()
        sim.place("7.7530")  # filled
        reading = scale.weigh_stable()
    assert reading.stable and reading.grams == Decimal("1.2320") and reading.unit == "g"
    if sim.protocol == "mt-sics":
        assert tare is not None and tare.grams == Decimal("6.5210")  # MT-SICS reports the tare mass
    else:
        assert tare is None  # SBI does not; its tare is proved by a stable zero


def test_a_moving_value_is_never_returned_as_stable(sim):
    sim.place("1.2")
    with _open(sim) as scale:
        sim.unsettled(1)
        moving = scale.weigh_immediate()
        assert not moving.stable
        if sim.protocol == "mt-sics":  # the balance's own wait for stability ran out: S I
            sim.unsettled(1)
            with pytest.raises(BalanceNotStable, match="did not settle"):
                scale.weigh_stable()
        else:  # SBI: printed until it settles, within the timeout
            sim.unsettled(3)
            assert scale.weigh_stable().stable


def test_a_value_that_never_settles_is_refused(sim):
    sim.place("1.2")
    with _open(sim, timeout=0.5) as scale:
        sim.unsettled(1000)
        with pytest.raises(BalanceNotStable, match="keep the pan still"):
            scale.weigh_stable()


@pytest.mark.parametrize(("fault", "error", "words"), [
    ("overload", BalanceOutOfRange, "overloaded"),
    ("underload", BalanceOutOfRange, "underload"),
    ("unit", BalanceProtocolError, "not in grams"),
    ("garbage", BalanceProtocolError, "not text"),
])
def test_each_fault_of_a_reading_is_a_clear_refusal(sim, fault, error, words):
    sim.place("1.2")
    with _open(sim) as scale:
        sim.fail_next(fault)
        with pytest.raises(error, match=words) as refused:
            scale.weigh_stable()
        assert "Nothing was recorded" in refused.value.message
        assert scale.weigh_stable().grams == Decimal("1.2")  # the next reading is sound again


def test_a_load_beyond_the_capacity_is_an_overload(sim):
    sim.place("500")
    with _open(sim) as scale, pytest.raises(BalanceOutOfRange, match="overloaded"):
        scale.weigh_stable()


def test_an_error_answer_is_refused(sim):
    with _open(sim) as scale:
        sim.fail_next("error")
        with pytest.raises(BalanceError):
            scale.weigh_stable()


def test_silence_is_a_timeout_and_the_next_answer_is_not_taken_for_a_stale_one(sim):
    sim.place("1.2")
    with _open(sim, timeout=0.3) as scale:
        sim.fail_next("silent")
        with pytest.raises(BalanceUnavailable, match="did not answer within 0.3 s"):
            scale.weigh_stable()
        assert scale.weigh_stable().grams == Decimal("1.2")


def test_a_connection_dropped_mid_answer_is_refused(sim):
    sim.place("1.2")
    with _open(sim) as scale:
        sim.fail_next("disconnect")
        with pytest.raises(BalanceUnavailable, match="closed in the middle of an answer"):
            scale.weigh_stable()


def test_a_balance_that_is_not_there_is_refused_with_its_address():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BalanceUnavailable, match=f"127.0.0.1:{port} cannot be reached"):
        balance.connect(f"mt-sics+tcp://127.0.0.1:{port}?timeout=0.5")


def test_a_device_that_streams_without_line_ends_is_not_taken_for_a_balance():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def flood():
        connection, _ = server.accept()
        with connection:
            connection.recv(16)
            connection.sendall(b"9" * 500)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        with balance.connect(f"mt-sics+tcp://127.0.0.1:{port}?timeout=1") as scale, \
                pytest.raises(BalanceProtocolError, match="without a line end"):
            scale.weigh_stable()
    finally:
        thread.join(2)
        server.close()


@pytest.mark.parametrize(("url", "protocol", "transport", "address"), [
    ("mt-sics+tcp://127.0.0.1:4001", "mt-sics", "tcp", "127.0.0.1:4001"),
    ("sbi+tcp://10.0.0.7:4001?timeout=5", "sbi", "tcp", "10.0.0.7:4001"),
    ("serial:///dev/ttyUSB0?protocol=sbi&baud=9600", "sbi", "serial", "/dev/ttyUSB0"),
    ("mt-sics+serial:///dev/ttyS1?baud=19200&parity=E", "mt-sics", "serial", "/dev/ttyS1"),
])
def test_workstation_balance_addresses(url, protocol, transport, address):
    config = BalanceConfig.parse(url)
    assert (config.protocol, config.transport, config.address) == (protocol, transport, address)


@pytest.mark.parametrize("url", ["", "http://x:1", "mt-sics+tcp://127.0.0.1", "mt-sics+tcp://:4001",
                                 "foo+tcp://127.0.0.1:1", "serial://", "sbi+tcp://h:1?timeout=abc",
                                 "sbi+tcp://h:1?timeout=0", "serial:///dev/ttyUSB0?baud=fast",
                                 "mt-sics+tcp://h:99999"])
def test_a_wrong_balance_address_is_refused_with_the_form_to_use(url):
    with pytest.raises(BalanceError) as refused:
        BalanceConfig.parse(url)
    assert url in refused.value.message or "needs" in refused.value.message


def test_the_demo_simulator_runs_from_the_command_line_and_weighs_a_filled_syringe():
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "pharmacy.cli", "devices", "simulate-balance", "--port", str(port),
                                "--pan", "6.5", "--fill", "1.2"], stdout=subprocess.PIPE, text=True)
    try:
        assert f"127.0.0.1:{port}" in process.stdout.readline()  # printed once it listens
        deadline = time.monotonic() + 10
        while True:
            try:
                scale = balance.connect(f"mt-sics+tcp://127.0.0.1:{port}?timeout=2")
                break
            except BalanceUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with scale:
            assert scale.tare().grams == Decimal("6.5")
            assert scale.weigh_stable().grams == Decimal("1.2")
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
