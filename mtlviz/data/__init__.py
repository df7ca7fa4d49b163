"""Task families and samplers: the data every lesson draws from, generated or shipped offline.

- :mod:`~mtlviz.data.tasks`: regression task families (the sinusoids of Finn et al. 2017, lines);
- :mod:`~mtlviz.data.glyphs`: Omniglot-style N-way K-shot glyph episodes, and scikit-learn's digits;
- :mod:`~mtlviz.data.moons`: two moons, rotated (lesson 07's source and target domains);
- :mod:`~mtlviz.data.shifts`: shifted image domains (negative glyphs, blurred and noisy digits).

The lowest layer of the package: it imports nothing from mtlviz but input validation.
"""
