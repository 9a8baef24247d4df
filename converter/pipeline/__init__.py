"""Stage 6, pipeline: the passes in order, for one model or a whole run.

In:  modular file paths.
Out: `EmittedModel`s, formatted (convert.py: `convert_model` is the pass list, `convert_models`
     a run); scan.py and schedule.py order a run in dependency levels, workers.py and flow.py run
     it in worker processes (`-j N`).
"""
