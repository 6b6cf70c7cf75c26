#!/usr/bin/python3
"""Modbus TCP or RTU (serial) server backed by a fixed register image, for tests against a third-party stack.

Targets the pymodbus 3.0 API shipped by Debian 12 (python3-pymodbus); run it with
/usr/bin/python3, a pyenv/venv python will not see Debian's dist-packages.

Image JSON (0-based protocol addresses):
  {"holding": {"0": 1234}, "input": {...}, "coils": {"3": true}, "discrete": {...},
   "units": [1, 2], "sparse": false}
Without "units" every unit id gets the same store. With "units" only those ids answer;
pymodbus 3.0's framer drops requests for other ids without any response (the client
times out), it does not send exception 0x0B.
With "sparse" only addresses present in the image answer; others get exception 0x02.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
    ModbusSparseDataBlock,
)
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer

FULL_RANGE = 65536


def block(entries, is_bit, sparse):
    values = {int(addr): (bool(v) if is_bit else int(v) & 0xFFFF) for addr, v in (entries or {}).items()}
    for addr in values:
        if not 0 <= addr < FULL_RANGE:
            raise ValueError(f"address {addr} out of range 0..65535")
    if sparse:
        return ModbusSparseDataBlock(values)
    # Sequential from 0 so that, with zero_mode=True, protocol address N is list index N.
    # (Without zero_mode pymodbus adds 1 to every request address.)
    default = False if is_bit else 0
    data = [default] * FULL_RANGE
    for addr, v in values.items():
        data[addr] = v
    return ModbusSequentialDataBlock(0, data)


def slave_context(image, sparse):
    return ModbusSlaveContext(
        di=block(image.get("discrete"), True, sparse),
        co=block(image.get("coils"), True, sparse),
        hr=block(image.get("holding"), False, sparse),
        ir=block(image.get("input"), False, sparse),
        zero_mode=True,
    )


def build_context(image):
    sparse = bool(image.get("sparse", False))
    units = image.get("units")
    if units:
        # Separate stores per unit so a write to one unit does not show up on another.
        return ModbusServerContext(slaves={int(u): slave_context(image, sparse) for u in units}, single=False)
    return ModbusServerContext(slaves=slave_context(image, sparse), single=True)


async def run_serial(device, baudrate, parity, image):
    context = build_context(image)
    # ignore_missing_slaves: a unit id not in "units" stays silent, as on a real RS-485 line.
    server = await StartAsyncSerialServer(
        context=context,
        framer=ModbusRtuFramer,
        port=device,
        baudrate=baudrate,
        parity=parity,
        bytesize=8,
        stopbits=1,
        ignore_missing_slaves=True,
        defer_start=True,
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    units = image.get("units")
    print(
        f"pymodbus server listening on {device} (rtu, {baudrate} baud, units {','.join(map(str, units)) if units else 'any'})",
        flush=True,
    )
    await stop.wait()
    await server.shutdown()


async def run(host, port, image):
    context = build_context(image)
    server = await StartAsyncTcpServer(
        context=context,
        address=(host, port),
        defer_start=True,
        allow_reuse_address=True,
    )
    task = asyncio.create_task(server.serve_forever())
    # serve_forever swallows nothing at bind time: a busy port fails the task, which would
    # otherwise go unnoticed while `serving` stays pending forever.
    await asyncio.wait([server.serving, task], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
        raise RuntimeError("server stopped before it started serving")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    units = image.get("units")
    print(
        f"pymodbus server listening on {host}:{port} (units {','.join(map(str, units)) if units else 'any'})",
        flush=True,
    )
    await asyncio.wait([asyncio.create_task(stop.wait()), task], return_when=asyncio.FIRST_COMPLETED)
    await server.shutdown()
    task.cancel()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5020)
    parser.add_argument("--serial", help="serve Modbus RTU on this serial device instead of TCP")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="N")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--image", help="register image as a JSON string")
    src.add_argument("--image-file", help="path of a JSON file holding the register image")
    args = parser.parse_args()

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.image_file:
        with open(args.image_file, encoding="utf-8") as fh:
            image = json.load(fh)
    else:
        image = json.loads(args.image or "{}")

    if args.serial:
        asyncio.run(run_serial(args.serial, args.baudrate, args.parity, image))
        return
    try:
        asyncio.run(run(args.host, args.port, image))
    except OSError as exc:
        print(f"pymodbus server failed to bind {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
