"""Activity names, importable by workflows without importing the activities (and litellm)."""

RECALL = "tutelage.recall"
ANSWER = "tutelage.answer"
JUDGE = "tutelage.judge"
RECORD = "tutelage.record"
