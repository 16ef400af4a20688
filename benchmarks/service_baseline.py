"""The baseline a user would write by hand: FastAPI + ONNX Runtime serving one ONNX file (bench_service.py).

    SERVICE_ONNX=model.onnx SERVICE_CLASSES='["a", ...]' uvicorn benchmarks.service_baseline:app

POST /predict {"rows": [{"image": base64 PNG}]} → {"rows": [{"prediction": class, "probability": p}]}.
"""
import base64
import io
import json
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from PIL import Image

sess = ort.InferenceSession(os.environ["SERVICE_ONNX"], providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
classes = json.loads(os.environ["SERVICE_CLASSES"])
app = FastAPI()


@app.post("/predict")
def predict(body: dict):
    x = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(r["image"]))).convert("L"), np.float32)[None]
                  for r in body["rows"]]) / 255.0
    p = sess.run(None, {name: x})[0]
    return {"rows": [{"prediction": classes[int(i)], "probability": float(q[i])} for q, i in zip(p, p.argmax(1))]}
