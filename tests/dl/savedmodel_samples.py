"""SavedModels for the reader tests, made by TensorFlow itself: `python savedmodel_samples.py OUT` (run in a child
process with tf_env's environment, so the test process never imports TensorFlow) writes one folder per model."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(out: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def save(name, module, sigs):
        tf.saved_model.save(module, str(out / name), signatures=sigs)

    class Dense(tf.Module):  # one input, softmax output; a second signature "logits"
        def __init__(self):
            self.w = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
            self.b = tf.Variable(rng.normal(size=(3,)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"probabilities": tf.nn.softmax(tf.matmul(x, self.w) + self.b)}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def logits(self, x):
            return {"logits": tf.matmul(x, self.w) + self.b}

    m = Dense()
    save("dense", m, {"serving_default": m.serve, "logits": m.logits})

    class Two(tf.Module):  # two inputs of two dtypes, two outputs; keys not in alphabetical order of creation
        def __init__(self):
            self.k = tf.Variable(rng.normal(size=(3, 3, 1, 2)).astype(np.float32))
            self.e = tf.Variable(rng.normal(size=(10, 2)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6, 6, 1], tf.float32, name="image"),
                                      tf.TensorSpec([None, 5], tf.int64, name="ids")])
        def serve(self, image, ids):
            conv = tf.nn.relu(tf.nn.conv2d(image, self.k, 1, "VALID"))
            feat = tf.reduce_mean(conv, axis=[1, 2])
            emb = tf.reduce_mean(tf.gather(self.e, ids), axis=1)
            return {"score": tf.reduce_sum(feat * emb, axis=1, keepdims=True), "features": feat}

    m = Two()
    save("two", m, {"serving_default": m.serve})

    class Lgamma(tf.Module):  # an op tf2onnx cannot convert: runs in TensorFlow
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.lgamma(x + 1.0) * 2.0}

    m = Lgamma()
    save("lgamma", m, {"serving_default": m.serve})

    class ReadsFile(tf.Module):  # reads a file when called
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            n = tf.strings.length(tf.io.read_file(str(out / "secret.txt")))
            return {"y": x + tf.cast(n, tf.float32)}

    m = ReadsFile()
    save("readfile", m, {"serving_default": m.serve})
    (out / "secret.txt").write_text("four")

    class Hidden(tf.Module):  # a clean signature; the loader also restores `leak`, which writes a file
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def leak(self, s):
            tf.io.write_file(str(out / "leaked.txt"), s)
            return s

    m = Hidden()
    save("hidden", m, {"serving_default": m.serve})

    class Branch(tf.Module):  # the file read sits in one branch of a tf.cond (an If op's function attribute)
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            y = tf.cond(tf.reduce_sum(x) > 1e9, lambda: x + tf.cast(tf.strings.length(tf.io.read_file(
                str(out / "secret.txt"))), tf.float32), lambda: x)
            return {"y": y}

    m = Branch()
    save("branch", m, {"serving_default": m.serve})

    class Unknown(tf.Module):  # a variable-size axis the model cannot take at any size: needs 4
        def __init__(self):
            self.w = tf.Variable(rng.normal(size=(4, 2)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="values")])
        def serve(self, values):
            return {"y": tf.matmul(values, self.w)}

    m = Unknown()
    save("unknown", m, {"serving_default": m.serve})

    class Pooled(tf.Module):  # a variable-size axis the model takes at any size
        @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32, name="seq")])
        def serve(self, seq):
            return {"mean": tf.reduce_mean(seq, axis=1)}

    m = Pooled()
    save("pooled", m, {"serving_default": m.serve})

    import keras  # a Keras CNN exported the way Keras users do (model.export: serving_default)

    keras.utils.set_random_seed(0)
    cnn = keras.Sequential([keras.Input((8, 8, 1), name="image"), keras.layers.Conv2D(4, 3, activation="relu"),
                            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
    cnn.export(str(out / "keras_cnn"), format="tf_saved_model", verbose=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
