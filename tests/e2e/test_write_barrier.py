"""`After` holds items in chunks until the files they vouch for are complete: each is released once,
on the output of the input it came from."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipeline.run import pipeline_options
from pipeline.transforms import write


def test_every_item_is_released_once_across_full_and_partial_chunks():
    items = [{"key": f"k{i}", "n": i} for i in range(2 * write._CHUNK_ITEMS + 17)]  # two full chunks and a rest
    p = beam.Pipeline(options=pipeline_options([]))
    done = p | "Done" >> beam.Create(["/out/part-1.parquet", "/out/part-2.parquet"])
    released = p | "Items" >> beam.Create(items) | write.After(done)
    assert_that(released | beam.Map(lambda r: r["n"]), equal_to(list(range(len(items)))))
    p.run().wait_until_finish()



def test_several_inputs_pass_one_barrier_each_to_its_own_output():
    sizes = (write._CHUNK_ITEMS + 5, 3, 0)  # a full chunk and a rest, a small input, an empty one
    p = beam.Pipeline(options=pipeline_options([]))
    done = p | "Done" >> beam.Create(["/out/part-1.parquet"])
    inputs = tuple(p | f"Items{i}" >> beam.Create([(i, n) for n in range(size)]) for i, size in enumerate(sizes))
    released = inputs | write.After(done)
    assert len(released) == len(sizes)
    for i, (out, size) in enumerate(zip(released, sizes, strict=True)):
        assert_that(out, equal_to([(i, n) for n in range(size)]), label=f"Check{i}")
    p.run().wait_until_finish()
