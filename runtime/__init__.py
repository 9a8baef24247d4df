"""The small hand-written base that every generated model file imports.

Infrastructure only: configs (`configuration_utils`), checkpoint loading and saving
(`modeling_utils`), attention backends, masks, caches, rotary parameters, activations,
generation and the auto registry. Model math lives in the generated files.
"""
