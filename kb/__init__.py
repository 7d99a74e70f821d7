"""The knowledge base: articles, TF-IDF search and the answer/clarify/hand-off decision.

It imports nothing else of Switchboard's, so it can be tested and benchmarked alone."""
