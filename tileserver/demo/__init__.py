"""SYNTHETIC demo dataset for cogsight: seeded optical/SAR COGs around Wuhan with truth masks."""

from tileserver.demo.scenes import (
    CHANGE_CLASSES,
    CLASSES,
    DemoItem,
    generate_demo,
    make_optical_scene,
    write_cog,
)

__all__ = [
    "CHANGE_CLASSES",
    "CLASSES",
    "DemoItem",
    "generate_demo",
    "make_optical_scene",
    "write_cog",
]
