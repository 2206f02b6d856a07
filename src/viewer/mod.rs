//! The desktop viewer: Bevy app and plugins.

use bevy::prelude::*;

/// Builds the viewer app with a window, a camera and a light.
pub fn app() -> App {
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "Overlook".into(),
            ..default()
        }),
        ..default()
    }))
    .add_systems(Startup, setup);
    app
}

fn setup(mut commands: Commands) {
    commands.spawn((
        Camera3d::default(),
        Transform::from_xyz(120.0, 40.0, 120.0).looking_at(Vec3::new(128.0, 20.0, 128.0), Vec3::Y),
    ));
    commands.spawn((
        DirectionalLight::default(),
        Transform::from_xyz(0.0, 100.0, 0.0).looking_at(Vec3::new(1.0, 0.0, 1.0), Vec3::Y),
    ));
}
