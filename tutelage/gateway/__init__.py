"""The OpenAI-compatible HTTP API (`tutelage serve`): each request one QueryWorkflow."""
