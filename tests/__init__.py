"""mtlviz's tests, and the harness they share with the benchmarks (``tests.harness``)."""
