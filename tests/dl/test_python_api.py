"""The Python API: the image-classification workflow built and run from Python (the README's snippet)."""


def test_build_and_run_a_cnn_workflow_from_python(tmp_path):
    path = tmp_path / "fashion.json"
    # --- README snippet (with small limits so the test stays quick) ---
    from deepnodes.core import Engine, Workflow

    wf = Workflow("fashion")
    wf.add("deepnodes.data.DatasetReader", "train", {"dataset": "fashion-mnist", "split": "train", "limit": 2000})
    wf.add("deepnodes.data.DatasetReader", "test", {"dataset": "fashion-mnist", "split": "test", "limit": 500})
    for src in ("train", "test"):
        wf.add("deepnodes.data.ImageToTensor", f"{src}_x", {"column": "image", "scale": "unit"})
        wf.connect(src, "table", f"{src}_x", "table")
    layers = [("Input", {"shape": [1, 28, 28], "name": "image"}),
              ("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
              ("MaxPooling2D", {"pool_size": 2}),
              ("Flatten", {}),
              ("Dense", {"units": 10, "activation": "softmax"})]
    prev = None
    for i, (kind, cfg) in enumerate(layers):
        wf.add(f"deepnodes.layers.{kind}", f"l{i}", cfg)
        if prev:
            wf.connect(prev, "network", f"l{i}", "input")
        prev = f"l{i}"
    wf.add("deepnodes.dl.NetworkLearner", "learner",
           {"epochs": 2, "batch_size": 64, "targets": [{"columns": ["class_name"]}]})
    wf.connect(prev, "network", "learner", "network")
    wf.connect("train_x", "table", "learner", "table")
    wf.add("deepnodes.dl.NetworkExecutor", "executor")
    wf.connect("learner", "network", "executor", "network")
    wf.connect("test_x", "table", "executor", "table")
    wf.add("deepnodes.data.Scorer", "scorer", {"truth_column": "class_name"})
    wf.connect("executor", "table", "scorer", "table")

    engine = Engine(wf)
    engine.subscribe(lambda e: print(e["values"]) if e["type"] == "metrics" and e["kind"] == "epoch" else None)
    result = engine.run()
    print(engine.status["scorer"].scalars["accuracy"])     # test accuracy
    history = engine.output("learner", "history")          # one row per epoch (pyarrow.Table)
    predictions = engine.output("executor")                # the test table + prediction, probability
    wf.save(path)  # the same workflow as a file, for `deepnodes run fashion.json`
    # --- end of snippet ---

    assert result.ok
    assert engine.status["scorer"].scalars["accuracy"] > 0.6  # chance: 0.1
    assert history.num_rows == 2
    assert predictions.column("prediction").to_pylist()[0] in engine.output("learner", "network").metadata["class_names"]
    assert Workflow.load(path).to_json() == wf.to_json()
