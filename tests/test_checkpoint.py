"""The committed model/cnn.pt: as accurate as the article says, checked by evaluating it here."""
import hashlib

from conftest import CHECKPOINT, accuracy_of


def test_committed_metrics_report_at_least_92_percent(committed_metrics):
    """model/cnn.json records a test accuracy of at least 0.92, as a fraction."""
    assert 0.92 <= committed_metrics["test_accuracy"] <= 1


def test_committed_checkpoint_earns_its_reported_accuracy(committed_metrics, fashion_test_split):
    """Evaluated on the 10,000 real test images, model/cnn.pt scores ≥ 0.92, as model/cnn.json says (±1e-4)."""
    assert committed_metrics["weights_sha256"] == hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest()
    norm = committed_metrics["normalisation"]
    assert len(fashion_test_split.labels) == 10_000
    accuracy = accuracy_of(CHECKPOINT, norm["mean"], norm["std"], fashion_test_split)
    assert accuracy >= 0.92
    assert abs(accuracy - committed_metrics["test_accuracy"]) <= 1e-4
