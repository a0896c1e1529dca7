import numpy as np
import pytest

from firmware import FirmwareError
from firmware.media.mixer import Mixer
from firmware.media.tickstats import TickStats


def frames(n_rows, value_per_row):
    return np.stack([np.full(160, v, dtype=np.int16) for v in value_per_row[:n_rows]])


def test_two_party_bridge_and_silence_elsewhere():
    mixer = Mixer(n_ports=4, n_players=1)
    mixer.bridge(0, 2)
    out = mixer.mix(frames(4, [100, 200, 300, 400]), frames(1, [7]))
    assert out[:, 0].tolist() == [300, 0, 100, 0]
    assert mixer.bridged_pairs() == [(0, 2)]


def test_conference_hears_everyone_but_self_and_player_mixes_in():
    mixer = Mixer(n_ports=4, n_players=2)
    mixer.conference([0, 1, 3])
    mixer.listen_player(2, 1, gain_db=-6.0)
    out = mixer.mix(frames(4, [10, 20, 30, 40]), frames(2, [1000, 2000]))
    assert out[:, 0].tolist() == [60, 50, round(2000 * 10 ** (-6 / 20)), 30]


def test_clipping_instead_of_wrapping():
    mixer = Mixer(n_ports=3, n_players=0)
    mixer.conference([0, 1, 2])
    out = mixer.mix(frames(3, [30000, 30000, -30000]), np.zeros((0, 160)))
    assert out[2, 0] == 32767 and out[0, 0] == 0


def test_isolate_removes_both_directions():
    mixer = Mixer(n_ports=3, n_players=1)
    mixer.conference([0, 1, 2])
    mixer.listen_player(1, 0)
    mixer.isolate(1)
    assert mixer.hears(1) == ([], [])
    assert mixer.hears(0) == ([2], [])


@pytest.mark.parametrize("call", [
    lambda m: m.bridge(0, 9),
    lambda m: m.listen_port(1, 1),
    lambda m: m.listen_player(0, 5),
])
def test_bad_references_are_refused(call):
    mixer = Mixer(n_ports=3, n_players=1)
    with pytest.raises(FirmwareError):
        call(mixer)
    assert mixer.hears(0) == ([], [])


def test_tick_stats_percentiles_and_misses():
    stats = TickStats(window=1000)
    for ms in [1.0] * 980 + [10.0] * 15 + [25.0] * 5:
        stats.record(ms)
    summary = stats.summary()
    assert summary.ticks == 1000 and summary.deadline_misses == 5
    assert summary.tick_p50_ms == 1.0 and summary.tick_max_ms == 25.0
    assert 10.0 <= summary.tick_p99_ms <= 25.0


def test_mix_gives_the_same_numbers_as_one_scatter_add_over_the_entries():
    """The layered sum (mixer.py) against the plain definition: every entry added in row order."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_ports, n_players = int(rng.integers(2, 16)), int(rng.integers(0, 16))
        mixer = Mixer(n_ports, n_players)
        expected_matrix = np.zeros((n_ports, n_ports + n_players), dtype=np.float32)
        for _ in range(int(rng.integers(0, 30))):
            listener, talker = (int(x) for x in rng.integers(0, n_ports, 2))
            if listener != talker:
                gain_db = float(rng.uniform(-20.0, 6.0))
                mixer.listen_port(listener, talker, gain_db)
                expected_matrix[listener, talker] = 10.0 ** (gain_db / 20.0)
            if n_players:
                listener, player = int(rng.integers(0, n_ports)), int(rng.integers(0, n_players))
                mixer.listen_player(listener, player, -6.0)
                expected_matrix[listener, n_ports + player] = 10.0 ** (-6.0 / 20.0)
        ports = rng.integers(-32768, 32767, (n_ports, 160)).astype(np.int16)
        players = rng.normal(0.0, 8000.0, (n_players, 160))
        listeners, talkers = np.nonzero(expected_matrix)
        expected = np.zeros((n_ports, 160), dtype=np.float32)
        stacked = np.concatenate([ports, players]).astype(np.float32)
        np.add.at(expected, listeners, stacked[talkers] * expected_matrix[listeners, talkers][:, None])
        np.clip(expected, -32768, 32767, out=expected)
        np.testing.assert_array_equal(mixer.mix(ports, players), np.rint(expected).astype(np.int16))


def test_two_party_calls_alone_are_copied_with_the_same_numbers_as_the_sum():
    """Only two-party calls at 0 dB (one layer, unit gains, no player heard): the mixer copies
    the int16 samples (mixer.py); they must be what the plain definition gives, and a gain, a
    player or a conference going in must change them as the definition says."""
    rng = np.random.default_rng(1)
    for case in range(100):
        n_ports, n_players = int(rng.integers(2, 20)), int(rng.integers(0, 4))
        mixer = Mixer(n_ports, n_players)
        matrix = np.zeros((n_ports, n_ports + n_players), dtype=np.float32)
        order = rng.permutation(n_ports)
        for a, b in zip(order[0::2][: int(rng.integers(1, n_ports // 2 + 1))], order[1::2], strict=False):
            mixer.bridge(int(a), int(b))
            matrix[a, b] = matrix[b, a] = 1.0
        if case % 4 == 1:  # one direction only (a whisper at 0 dB): still one layer of copies
            listener, talker = (int(x) for x in rng.choice(n_ports, 2, replace=False))
            if not matrix[listener].any():
                mixer.listen_port(listener, talker)
                matrix[listener, talker] = 1.0
        elif case % 4 == 2 and n_players:  # a player heard: the sum
            mixer.listen_player(0, 0)
            matrix[0, n_ports] = 1.0
        elif case % 4 == 3:  # a gain: the sum
            listener, talker = int(order[0]), int(order[1])
            mixer.listen_port(listener, talker, -6.0)
            matrix[listener, talker] = 10.0 ** (-6.0 / 20.0)
        ports = rng.integers(-32768, 32767, (n_ports, 160), endpoint=True).astype(np.int16)
        players = rng.normal(0.0, 8000.0, (n_players, 160))
        listeners, talkers = np.nonzero(matrix)
        expected = np.zeros((n_ports, 160), dtype=np.float32)
        stacked = np.concatenate([ports, players]).astype(np.float32)
        np.add.at(expected, listeners, stacked[talkers] * matrix[listeners, talkers][:, None])
        np.clip(expected, -32768, 32767, out=expected)
        np.testing.assert_array_equal(mixer.mix(ports, players), np.rint(expected).astype(np.int16))
