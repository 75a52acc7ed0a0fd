//! Placeholder entry replaced by the freestanding program.
#![no_std]
#![no_main]
