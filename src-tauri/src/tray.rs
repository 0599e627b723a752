//! The tray icon and desktop notifications: the inbox count in the tray's menu, tooltip and
//! title, and one notification when a session starts waiting for its user (once per wait;
//! `flightdeck_core::views::alerts` decides which).

use flightdeck_core::views::alerts::Alerts;
use flightdeck_core::views::InboxItem;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{App, AppHandle, Manager, Wry};
use tauri_plugin_notification::NotificationExt;

/// What shows the inbox outside the window.
pub struct Tray {
    app: AppHandle,
    inbox_item: MenuItem<Wry>,
    /// `None` on a desktop without a tray host: it still gets the window.
    icon: Option<TrayIcon>,
    alerts: Alerts,
}

impl Tray {
    /// The tray icon with its menu (Inbox, Quit).
    pub fn build(app: &App) -> tauri::Result<Tray> {
        let inbox_item = MenuItem::with_id(app, "inbox", "Inbox", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Flightdeck", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&inbox_item, &quit])?;
        let mut tray = TrayIconBuilder::with_id("main")
            .menu(&menu)
            .tooltip("Flightdeck")
            .on_menu_event(|app, event| match event.id.as_ref() {
                "quit" => app.exit(0),
                "inbox" => {
                    if let Some(w) = app.get_webview_window("main") {
                        let _ = w.show();
                        let _ = w.set_focus();
                        let _ = w.eval("location.hash = '#/inbox'");
                    }
                }
                _ => {}
            });
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        let icon = tray
            .build(app)
            .map_err(|e| eprintln!("warning: no tray icon: {e}"))
            .ok();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Ok(Tray {
            app: app.handle().clone(),
            inbox_item,
            icon,
            alerts: Alerts::since(started),
        })
    }

    /// Shows the inbox's size, and notifies of the items that newly need the lead.
    pub fn show(&mut self, items: &[InboxItem]) {
        let n = items.len();
        let _ = self.inbox_item.set_text(format!("Inbox: {n}"));
        if let Some(t) = &self.icon {
            let _ = t.set_tooltip(Some(format!("Flightdeck — {n} in your inbox")));
            let _ = t.set_title(Some(n.to_string()));
        }
        for item in self.alerts.update(items) {
            notify(&self.app, &item);
        }
    }
}

/// One desktop notification for an inbox item. A desktop without a notification service
/// (no D-Bus session, a bare X server) only loses the popup: the item is in the inbox.
fn notify(app: &AppHandle, item: &InboxItem) {
    if let Err(e) = app
        .notification()
        .builder()
        .title(&item.title)
        .body(&item.detail)
        .show()
    {
        eprintln!("warning: desktop notification not shown: {e}");
    }
}
