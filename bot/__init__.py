"""The conversation engine: the pipeline an inbound message goes through, the dialogue
policy, the hand-over to the queue and the outbox."""
