"""The tests' own Keras saves and TensorBoard reads do not bring TensorFlow into the (torch) test process (tests/conftest.py)."""
import sys
def test_keras_save_and_tensorboard_leave_tensorflow_out(tmp_path):
    import keras
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    m.save(tmp_path / "m.keras")
    keras.saving.load_model(tmp_path / "m.keras")
    from torch.utils.tensorboard import SummaryWriter
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    w = SummaryWriter(str(tmp_path / "tb")); w.add_scalar("a", 1.0, 0); w.close()
    EventAccumulator(str(tmp_path / "tb")).Reload()
    assert "tensorflow" not in sys.modules
