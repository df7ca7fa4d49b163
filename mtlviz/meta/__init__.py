"""Meta-learning estimators, all on the one functional core (:mod:`mtlviz.functional`).

- :mod:`~mtlviz.meta.maml`: MAML on regression tasks (second or first order), its outer step,
  and the pretrain-then-fine-tune baseline :class:`~mtlviz.meta.maml.JointTraining`;
- :mod:`~mtlviz.meta.fewshot`: MAML on N-way K-shot images, and the pixel nearest-neighbour reference;
- :mod:`~mtlviz.meta.metalstm`: the Meta-LSTM learned optimiser (Ravi & Larochelle 2017);
- :mod:`~mtlviz.meta.seed`: the seed text's code example and its bug variants (lesson 04);
- :mod:`~mtlviz.meta.landscape`: the MAML objective of a two-parameter model on a grid (lesson 02).

Imports from ``data``, ``functional``, ``nets``, ``evaluation`` and ``_base`` only; never from
``transfer`` or anything above.
"""
