from django.contrib import admin

from config.models import BusinessCalendar, BusinessHours, Holiday


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    inlines = [BusinessHoursInline, HolidayInline]


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ["calendar", "weekday", "start", "end"]
    list_filter = ["calendar", "weekday"]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["calendar", "date", "name"]
    list_filter = ["calendar"]
    date_hierarchy = "date"
