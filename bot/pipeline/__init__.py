"""The steps an inbound message goes through, each a small unit with its own tests.

For a run of messages (a polled batch) in one unit of work, `bot.engine.Engine` calls:

1. `sender` — the senders' identities and clients (new ones made), the reply language;
2. `thread` — each message's conversation (a rating's, by reply headers, by ticket number,
   the client's open one, or a new one, all the run's new ones made in one INSERT);
3. `store` — the message row (a redelivered platform id is skipped before step 1 places it);
4. `recognise` — what the message is: a bounce, a robot's, an identity proof, a greeting,
   thanks, a request for a person, a choice, a file, or a question;
5. `decide` — the dialogue policy: a reply, a knowledge-base answer (`consult`), or a
   hand-off to the queue (`queueing`);

and after the commit `deliver` sends the replies, makes the queue entry and tells the
operators. Each step takes and returns the dataclasses of `turn`. Edits and delivery
reports take their own short path (`edits`).
"""
