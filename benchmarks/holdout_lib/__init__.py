"""The second (holdout) corpus of the rule-engine quality benchmark (issue 10).

Written independently of ``benchmarks/corpus_lib``: its own tasks and models (``tasks``), and
logs written by the programs a user would have: the Hugging Face ``Trainer`` (``hf_runs``),
Lightning's ``CSVLogger``/``TensorBoardLogger`` (``pl_runs``) and hand-written loops that
print nanoGPT-like or PyTorch-examples-like lines (``loops``). ``readback`` reads the logged
values back without lrwatch, ``labels`` labels each run from its construction and those
values, ``score`` feeds each file through lrwatch's own reader. docs/rules-quality.md
describes it ("The second (holdout) corpus").
"""
