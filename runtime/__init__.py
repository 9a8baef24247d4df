"""The small hand-written base that every generated model file imports.

Infrastructure only: configs (`configuration_utils`), checkpoint loading and saving
(`modeling_utils`), attention backends, masks, caches, rotary parameters, activations,
generation and the auto registry; for processors, image operations and the image processor base
(`image_processing_utils`), a tokenizer on the `tokenizers` library (`tokenization_utils`), chat
templates (`chat_template`) and the processor base (`processing_utils`). Model math lives in the
generated files.
"""
