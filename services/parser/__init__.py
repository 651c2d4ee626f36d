"""The parser service: feed documents in, canonical articles out."""
