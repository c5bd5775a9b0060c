"""The Loop sandbox: a local emulator of Loop's API, served over real HTTP."""
