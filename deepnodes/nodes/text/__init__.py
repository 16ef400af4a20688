"""Text nodes: reading text, dictionaries and tokenizers, index sequences, generation, decoding and scoring."""
