"""Programs built on the library: the `lighterfast` command (cli), the demo bots and their view.

Apps may import any layer; nothing in the library imports them.
"""
