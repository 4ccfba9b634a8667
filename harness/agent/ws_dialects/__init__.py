"""The reference agent's side of each WebSocket dialect: the vendor's server, emulated.

Each module speaks one vendor protocol as its server does (from the vendor's public
documentation): what the client's messages mean (audio, session set-up, pongs, mark
echoes, truncation) and how the agent's audio, events and stop signal are framed.
The conversation itself is ``core.AgentCallCore``, the same for every dialect.
"""
