"""customers.uuids: version 4 UUIDs, never repeated, not even across a fork."""

import os
import uuid

from customers.uuids import BLOCK, new_uuid, new_uuid_text


def test_version_4_and_unique_across_blocks():
    made = [new_uuid() for _ in range(3 * BLOCK + 5)]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in made)
    assert len(set(made)) == len(made)


def test_the_text_form_is_canonical_version_4():
    made = [new_uuid_text() for _ in range(2 * BLOCK)]
    assert all(str(uuid.UUID(text)) == text for text in made)
    assert all(uuid.UUID(text).version == 4 and uuid.UUID(text).variant == uuid.RFC_4122 for text in made)
    assert len(set(made)) == len(made)


def test_a_forked_child_never_repeats_the_parents_block():
    new_uuid()  # the parent now holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, "".join(new_uuid().hex for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    child = {text[i : i + 32] for i in range(0, len(text), 32)}
    parent = {new_uuid().hex for _ in range(BLOCK)}
    assert len(child) == 10
    assert child.isdisjoint(parent)
