"""Transfer learning: fine-tuning and feature extraction, domain adaptation, and when each wins.

- :mod:`~mtlviz.transfer.finetune`: a pretrained backbone fine-tuned or used as a frozen feature
  extractor per episode;
- :mod:`~mtlviz.transfer.domain`: source only, Deep CORAL and DANN (gradient reversal);
- :mod:`~mtlviz.transfer.curves`: target accuracy against labels per class for each strategy
  (lesson 06).

Imports from ``data``, ``functional``, ``nets``, ``evaluation`` and ``_base`` only; never from
``meta`` or anything above.
"""
