"""Builds examples/translation_service.json: the English→German translation example, served.

    .venv/bin/python examples/build_service_examples.py

It is examples/translation_en_de.json (built by build_text_examples.py) with a Service Input taking one English
sentence per row (column `text`), a Sequence Decoder translating it with the trained network and both
dictionaries, and a Service Output returning `text` and `german`. Train and save once with
`deepnodes run examples/translation_service.json --save-results`, then
`deepnodes serve-workflow examples/translation_service.json`.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def translation_service():
    from deepnodes.core import Workflow, registry

    registry.discover()
    wf = Workflow.load(HERE / "translation_en_de.json")
    wf.name = "English to German translation as a web service"
    wf.description = ("The encoder-decoder LSTM with attention of the translation example, trained and saved once, "
                      "then served: Service Input takes an English sentence per row (column 'text'), a Sequence "
                      "Decoder translates it with the trained network and the two dictionaries, Service Output "
                      "answers with the sentence and its German translation. Train and save with `deepnodes run "
                      "examples/translation_service.json --save-results`, then `deepnodes serve-workflow "
                      "examples/translation_service.json`.")
    wf.runtime = "about 25 min on a laptop CPU to train; then tens of milliseconds per sentence (beam search)"
    y = 930.0  # a row of its own below the network's layer nodes (rows are 150 apart)
    wf.add("deepnodes.service.ServiceInput", id="request", label="Request: one English sentence per row",
                position=(0.0, y), config={
                    "columns": [{"name": "text", "kind": "string", "description": "an English sentence"}],
                    "example": {"text": "How are you?"}, "max_rows": 64})
    decoder = wf.nodes["decoder_node"].config
    wf.add("deepnodes.text.SequenceDecoder", id="translate", label="Translate the request",
                position=(2300.0, y), config={**decoder, "source_column": "text", "output_column": "german",
                                              "attention_row": None})
    wf.add("deepnodes.service.ServiceOutput", id="response", label="Response: the sentence and its German",
                position=(2530.0, y), config={"columns": ["text", "german"]})
    wf.connect("learner", "network", "translate", "network")
    wf.connect("de_tok", "dictionary", "translate", "target_dictionary")
    wf.connect("request", "table", "translate", "table")
    wf.connect("en_tok", "dictionary", "translate", "source_dictionary")
    wf.connect("translate", "table", "response", "table")
    return wf


def main() -> None:
    translation_service().save(HERE / "translation_service.json")
    print("wrote examples/translation_service.json")


if __name__ == "__main__":
    main()
