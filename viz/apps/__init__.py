"""The desktop viewers: a shared base (window, worker, loading, image pane, exports) and one module per tool.
Importing these needs imgui-bundle, glfw and PyOpenGL (the viz extra); the rest of viz/ runs headless."""
