"""Stop the running score; the job then leaves no strip and no file."""

import bpy

from .. import engine


class MOODSCORE_OT_cancel(bpy.types.Operator):  # noqa: N801 (Blender naming)
    """Stop the running Moodscore job; nothing it made is kept"""

    bl_idname = "moodscore.cancel"
    bl_label = "Cancel Scoring"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        job = engine.active_job()
        return job is not None and not job.done

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not engine.cancel_active():
            return {"CANCELLED"}
        self.report({"INFO"}, "Cancelling Moodscore…")
        return {"FINISHED"}


CLASSES: tuple[type, ...] = (MOODSCORE_OT_cancel,)
